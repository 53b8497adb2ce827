#include "plugins/view/aastra/aastra_view.h"

DIALTONE_VIEW_PLUGIN(aastra_view, "view.aastra",
                     "renders directory search pages for Aastra/Mitel IP phones (AastraIPPhoneTextMenu)")
