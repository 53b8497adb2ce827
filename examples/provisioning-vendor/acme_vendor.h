// A provisioning vendor written as data: Acme A100/A200 phones, detected from
// their User-Agent "Acme A100 <version> <mac>" or the file they ask for, one
// acme-<mac>.cfg each.
#pragma once

#include <dialtone/provisioning/described_vendor.h>

const dialtone::plugins::provisioning::VendorDescription& acme_description();
