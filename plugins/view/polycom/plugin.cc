#include "plugins/view/polycom/polycom_view.h"

namespace {
using PolycomViewPlugin =
    dialtone::plugins::view::DescribedViewPlugin<&dialtone::plugins::view::polycom_view>;
}

DIALTONE_PLUGIN(PolycomViewPlugin, "view.polycom", "view", "0.1.0",
                "renders directory search pages for the Polycom microbrowser (XHTML)",
                "", "", dialtone::plugins::view::kNoViewOptions)
