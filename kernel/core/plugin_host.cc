#include "kernel/core/plugin_host.h"

#include "kernel/core/dll.h"

namespace dialtone::kernel {

PluginHost::PluginHost(const KernelContext& ctx, std::string id,
                       std::shared_ptr<boost::dll::shared_library> library)
    : ctx_(ctx),
      id_(std::move(id)),
      log_(ctx.make_logger(id_)),
      services_(*ctx.services, id_, std::move(library)),
      http_(ctx, id_),
      lua_(ctx, id_) {}

std::filesystem::path PluginHost::data_dir() const {
  auto dir = ctx_.data_dir / "plugins" / id_;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) log_->warn("cannot create data directory " + dir.string() + ": " + ec.message());
  return dir;
}

}  // namespace dialtone::kernel
