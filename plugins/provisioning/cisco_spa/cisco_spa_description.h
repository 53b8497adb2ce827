#pragma once
#include <dialtone/provisioning/described_vendor.h>
namespace dialtone::plugins::provisioning {
const VendorDescription& cisco_spa_description();
}
