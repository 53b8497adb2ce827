#include "plugins/view/yealink/yealink_view.h"

DIALTONE_VIEW_PLUGIN(yealink_view, "view.yealink",
                     "renders directory search pages for Yealink IP phones (YealinkIPPhoneDirectory)")
