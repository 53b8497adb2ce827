#include "plugins/view/cisco/cisco_view.h"

DIALTONE_VIEW_PLUGIN(cisco_view, "view.cisco",
                     "renders directory search pages for Cisco IP phones (CiscoIPPhoneDirectory)")
