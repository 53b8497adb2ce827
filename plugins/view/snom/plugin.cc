#include "plugins/view/snom/snom_view.h"
#include "plugins/view/common/view_plugin.h"

namespace {
using SnomViewPlugin = dialtone::plugins::view::ViewPlugin<dialtone::plugins::view::SnomView>;
}

DIALTONE_PLUGIN(SnomViewPlugin, "view.snom", "view", "0.1.0",
                "renders directory search pages for snom IP phones (SnomIPPhoneDirectory)",
                "", "", dialtone::plugins::view::kNoOptions)
