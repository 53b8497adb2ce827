// The exported manifest and entry point of backend.sip.
#include <dialtone/plugin.h>

#include "plugins/backend/sip/sip_plugin.h"

DIALTONE_PLUGIN(dialtone::plugins::backend::sip::SipPlugin, "backend.sip", "backend", "0.1.0",
                "SIP channel driver: registrar with digest auth and a basic B2BUA (sofia-sip NTA)",
                "", "api.confd", dialtone::plugins::backend::sip::kOptions)
