// Precompiled header: LibTorch's headers, parsed once per target instead of once per file.
#pragma once
#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>
