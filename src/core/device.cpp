#include "sadanet/device.h"

#include <cctype>

#include "sadanet/error.h"
#include "sadanet/parse_number.h"

namespace sadanet {

Device Device::parse(const std::string& s) {
  if (s == "cpu") return Device(DeviceType::cpu, 0);
  if (s.rfind("cuda", 0) == 0) {
    if (s.size() == 4) return Device(DeviceType::cuda, 0);
    if (s.size() > 5 && s[4] == ':') {
      bool digits = true;
      for (size_t i = 5; i < s.size(); ++i) digits = digits && std::isdigit(static_cast<unsigned char>(s[i]));
      if (digits && s.size() < 9)
        return Device(DeviceType::cuda, static_cast<int>(parse_u64(std::string_view(s).substr(5), "device index")));
    }
  }
  throw Error("device: expected 'cpu', 'cuda' or 'cuda:N', got '" + s + "'");
}

std::string Device::str() const {
  return type == DeviceType::cpu ? std::string("cpu") : "cuda:" + std::to_string(index);
}

}  // namespace sadanet
