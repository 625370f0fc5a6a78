#include "common/tensor_heap.h"

#include <malloc.h>

namespace mw {

void KeepFreedTensorMemoryForReuse() {
  constexpr int kMaxMmapThreshold = 32 << 20;
  mallopt(M_MMAP_THRESHOLD, kMaxMmapThreshold);
  // Trimming returns the heap's free top to the kernel; a step frees and reallocates the
  // same sizes, so the free top is always about to be reused.
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace mw
