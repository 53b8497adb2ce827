#include "plugins/view/phoned/phoned.h"

DIALTONE_PLUGIN(dialtone::plugins::view::PhonedPlugin, "view.phoned", "view", "0.1.0",
                "phone-facing directory search routes on the phoned listener (port 9498)",
                "", "directory.dird", dialtone::plugins::view::kPhonedOptions)
