// Lowercase hex encoding of bytes, for tokens and for showing binary values.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace trolley {

std::string Hex(std::string_view bytes);
// InvalidArgument for an odd length or a character outside [0-9a-fA-F].
Result<std::string> Unhex(std::string_view text);

}  // namespace trolley
