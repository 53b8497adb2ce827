#include "plugins/view/polycom/polycom_view.h"
#include "plugins/view/common/view_plugin.h"

namespace {
using PolycomViewPlugin = dialtone::plugins::view::ViewPlugin<dialtone::plugins::view::PolycomView>;
}

DIALTONE_PLUGIN(PolycomViewPlugin, "view.polycom", "view", "0.1.0",
                "renders directory search pages for the Polycom microbrowser (XHTML)",
                "", "", dialtone::plugins::view::kNoOptions)
