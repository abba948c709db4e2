//! How the C allocator hands memory back. glibc serves a large block from
//! its own `mmap` and unmaps it when freed, but it raises that size bound to
//! the largest such block ever freed (up to 32 MiB). An activation frees a
//! large one early (the manifest's text, 18 MB at 100,000 files), and from
//! then on its tables and lists of every path come from the heap, where a
//! freed one leaves a hole that the next, differently sized, does not fill:
//! at 100,000 files that was 15 to 20 MB of peak memory holding nothing.
//! A fixed bound keeps each large block its own mapping, returned whole.
#![allow(
    unsafe_code,
    reason = "mallopt(3), which neither std nor nix wraps; each use says why it is sound"
)]

/// Blocks of this size and more are mapped apart and unmapped when freed.
/// glibc's own starting bound; a home of 1,000 files allocates none this
/// large, so small activations are unchanged.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: nix::libc::c_int = 128 << 10;

/// Fixes glibc's bound (see the module's comment). Elsewhere (macOS, musl)
/// the allocator already returns large blocks, and this does nothing.
pub fn return_large_blocks() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tuning parameter of the allocator; it is
    // called before any other thread exists, and its failure (0) leaves the
    // allocator's default, which is correct, only larger.
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
