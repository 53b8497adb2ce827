#pragma once
#include <dialtone/view/described_view.h>
namespace dialtone::plugins::view {
const ViewDescription& aastra_view();
}
