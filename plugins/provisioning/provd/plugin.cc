// The provisioning.provd plugin entry points (class in provd_plugin.h).
#include "plugins/provisioning/provd/provd_plugin.h"

DIALTONE_PLUGIN(dialtone::plugins::provisioning::ProvdPlugin, "provisioning.provd", "provisioning",
                "1.0.0",
                "phone provisioning: devices, configs, HTTP/TFTP file server and provd REST API",
                "", "api.confd,backend.sip,view.phoned", dialtone::plugins::provisioning::kOptions)
