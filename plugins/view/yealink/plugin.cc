#include "plugins/view/yealink/yealink_view.h"

namespace {
using YealinkViewPlugin =
    dialtone::plugins::view::DescribedViewPlugin<&dialtone::plugins::view::yealink_view>;
}

DIALTONE_PLUGIN(YealinkViewPlugin, "view.yealink", "view", "0.1.0",
                "renders directory search pages for Yealink IP phones (YealinkIPPhoneDirectory)",
                "", "", dialtone::plugins::view::kNoViewOptions)
