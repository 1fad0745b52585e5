// Module entry: exports every function registered with NL_EXPORT (see napi/util.h).
#include "napi/util.h"

namespace nl {
std::vector<std::pair<const char*, ExportFn>>& export_registry() {
  static std::vector<std::pair<const char*, ExportFn>> r;
  return r;
}
}  // namespace nl

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto& [name, fn] : nl::export_registry()) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

NODE_API_MODULE(nemotron_lab, Init)
