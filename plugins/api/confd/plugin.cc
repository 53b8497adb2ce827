#include "plugins/api/confd/confd_api.h"

DIALTONE_PLUGIN(dialtone::plugins::api::confd::ConfdApi, "api.confd", "api", "1.0.0",
                "configuration REST API compatible with xivo-confd 1.1", "", "",
                dialtone::plugins::api::confd::kOptions)
