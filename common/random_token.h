// Unguessable identifiers and secrets: bytes from the kernel's CSPRNG (getrandom), in hex.
// Worker ids are capabilities (whoever knows one can report for that worker), and generated
// bearer tokens are credentials, so neither may come from a seeded PRNG.
#pragma once

#include <cstddef>
#include <string>

namespace mw {

// 2 * bytes lowercase hex digits.
std::string RandomHex(size_t bytes);

}  // namespace mw
