#include "plugins/view/thomson/thomson_view.h"

namespace {
using ThomsonViewPlugin =
    dialtone::plugins::view::DescribedViewPlugin<&dialtone::plugins::view::thomson_view>;
}

DIALTONE_PLUGIN(ThomsonViewPlugin, "view.thomson", "view", "0.1.0",
                "renders directory search pages for Thomson ST2022/ST2030 phones (ThomsonPhoneBook)",
                "", "", dialtone::plugins::view::kNoViewOptions)
