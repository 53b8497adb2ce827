// The Acme phones' directory view written as data: the search form, the
// "nothing found" text and the result pages (AcmeBook), with the phones'
// limits. acme_description() points the phones' remote phone book at it.
#pragma once

#include <dialtone/view/described_view.h>

const dialtone::plugins::view::ViewDescription& acme_view();
