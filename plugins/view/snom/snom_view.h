#pragma once
#include "plugins/view/common/described_view.h"
namespace dialtone::plugins::view {
const ViewDescription& snom_view();
}
