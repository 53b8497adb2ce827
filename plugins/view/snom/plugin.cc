#include "plugins/view/snom/snom_view.h"

namespace {
using SnomViewPlugin =
    dialtone::plugins::view::DescribedViewPlugin<&dialtone::plugins::view::snom_view>;
}

DIALTONE_PLUGIN(SnomViewPlugin, "view.snom", "view", "0.1.0",
                "renders directory search pages for snom IP phones (SnomIPPhoneDirectory)",
                "", "", dialtone::plugins::view::kNoViewOptions)
