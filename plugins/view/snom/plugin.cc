#include "plugins/view/snom/snom_view.h"

DIALTONE_VIEW_PLUGIN(snom_view, "view.snom",
                     "renders directory search pages for snom IP phones (SnomIPPhoneDirectory)")
