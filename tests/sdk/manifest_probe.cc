// Prints the manifest of a plugin .so: `id=<id> kind=<kind> abi=<major>.<minor>`
// on separate lines, or why it cannot be read (exit 1).
#include <dialtone/plugin.h>
#include <dlfcn.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <plugin.so>\n", argv[0]);
    return 2;
  }
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
    return 1;
  }
  auto* m = static_cast<const dialtone_plugin_manifest*>(dlsym(lib, "dialtone_plugin_manifest_v1"));
  auto* entry = dlsym(lib, "dialtone_plugin_entry_v1");
  if (!m || !entry) {
    std::fprintf(stderr, "%s does not export dialtone_plugin_manifest_v1 and dialtone_plugin_entry_v1\n",
                 argv[1]);
    return 1;
  }
  std::printf("id=%s\nkind=%s\nversion=%s\nabi=%u.%u\n", m->id, m->kind, m->version,
              static_cast<unsigned>(m->abi_major), static_cast<unsigned>(m->abi_minor));
  dlclose(lib);
  return 0;
}
