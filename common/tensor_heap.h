// How the C heap treats the large, short-lived blocks a training step allocates and frees
// (activations, gradients, logit blocks: megabytes each, every step). glibc's defaults hand
// such blocks back to the kernel when freed (mmap above a threshold, trim above another), so
// the next step faults every page in again, zero-filled by the kernel. Measured on a
// one-epoch Fashion-MNIST job of 6,000 images with W = 2: 9.6 million page faults and 18 s of
// system time beside 61 s of user time; with this setting 2.2 million and 5 s.
#pragma once

namespace mw {

// Keeps freed blocks of up to 32 MiB (glibc's ceiling for this setting) in the heap for the
// next step instead of returning them to the kernel. The process's resident memory then
// stays at its high-water mark, which is what a worker's memory limit is sized for anyway.
// Call once, first thing in main, in processes that train.
void KeepFreedTensorMemoryForReuse();

}  // namespace mw
