// view.acme: the plugin providing acme_view() to view.phoned, in one line.
#include "acme_view.h"

namespace view = dialtone::plugins::view;

using AcmeViewPlugin = view::DescribedViewPlugin<&acme_view>;

DIALTONE_PLUGIN(AcmeViewPlugin, "view.acme", "view", "1.0.0",
                "renders directory search pages for Acme phones (example)", "", "", view::kNoViewOptions)
