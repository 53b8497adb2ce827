#include "plugins/view/yealink/yealink_view.h"
#include "plugins/view/common/view_plugin.h"

namespace {
using YealinkViewPlugin = dialtone::plugins::view::ViewPlugin<dialtone::plugins::view::YealinkView>;
}

DIALTONE_PLUGIN(YealinkViewPlugin, "view.yealink", "view", "0.1.0",
                "renders directory search pages for Yealink IP phones (YealinkIPPhoneDirectory)",
                "", "", dialtone::plugins::view::kNoOptions)
