#include "plugins/view/thomson/thomson_view.h"

DIALTONE_VIEW_PLUGIN(thomson_view, "view.thomson",
                     "renders directory search pages for Thomson ST2022/ST2030 phones (ThomsonPhoneBook)")
