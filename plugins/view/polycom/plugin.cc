#include "plugins/view/polycom/polycom_view.h"

DIALTONE_VIEW_PLUGIN(polycom_view, "view.polycom",
                     "renders directory search pages for the Polycom microbrowser (XHTML)")
