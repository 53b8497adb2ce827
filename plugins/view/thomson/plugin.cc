#include "plugins/view/thomson/thomson_view.h"
#include "plugins/view/common/view_plugin.h"

namespace {
using ThomsonViewPlugin = dialtone::plugins::view::ViewPlugin<dialtone::plugins::view::ThomsonView>;
}

DIALTONE_PLUGIN(ThomsonViewPlugin, "view.thomson", "view", "0.1.0",
                "renders directory search pages for Thomson ST2022/ST2030 phones (ThomsonPhoneBook)",
                "", "", dialtone::plugins::view::kNoOptions)
