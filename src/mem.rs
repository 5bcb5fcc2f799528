//! Memory helpers for large buffers.
//!
//! A 64 MiB output touched for the first time costs 16,000 page faults, which take longer than
//! encoding the data. Asking the kernel for transparent huge pages (where it is set to
//! `madvise`, the common default) cuts that by 512x.

/// Buffers at least this big are worth a huge-page hint.
pub const HUGE_THRESHOLD: usize = 4 << 20;

/// Hint that `[ptr, ptr + len)` should be backed by huge pages. Only whole 2 MiB pages inside
/// the range are affected; failures are ignored (it is only a hint).
pub fn advise_huge_pages(ptr: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        if len < HUGE_THRESHOLD {
            return;
        }
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + len) & !(HUGE - 1);
        if end > start {
            // SAFETY: madvise with MADV_HUGEPAGE changes no contents and only affects pages
            // inside an allocation the caller owns (rustix's madvise is unsafe for the advice
            // that do change contents, such as MADV_DONTNEED).
            let _ = unsafe {
                rustix::mm::madvise(
                    start as *mut std::ffi::c_void,
                    end - start,
                    rustix::mm::Advice::LinuxHugepage,
                )
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

/// `Vec::with_capacity`, with the huge-page hint for large capacities.
pub fn vec_with_capacity(cap: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(cap);
    advise_huge_pages(v.as_mut_ptr(), cap);
    v
}

/// A zeroed `Vec` of `len` bytes, with the huge-page hint for large lengths.
pub fn zeroed(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    advise_huge_pages(v.as_mut_ptr(), len);
    v
}
