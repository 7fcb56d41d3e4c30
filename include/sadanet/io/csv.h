// CSV as RFC 4180 writes it: a field holding a comma, a double quote, CR or LF is quoted, with
// its quotes doubled. Rows end in "\n" (RFC 4180 says CRLF; spreadsheets, R and pandas read both).
#pragma once
#include <string>
#include <vector>

#include "sadanet/export.h"

namespace sadanet::io {

SADANET_API std::string csv_field(const std::string& s);
// The fields joined by commas, each through csv_field, and a final "\n".
SADANET_API std::string csv_row(const std::vector<std::string>& fields);

}  // namespace sadanet::io
