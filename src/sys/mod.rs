//! The crate's unsafe foundation, below the core: the memory the engine works in (the buffer
//! region and the caller's payloads), the SIMD kernels, OS randomness, zlib, and the handles'
//! lock. Each module offers a safe API; nothing here is C-named, and nothing here imports from
//! the core or from `ffi` (only the leaf [`crate::error`]).

pub mod lock;
pub mod mem;
pub mod os;
pub mod simd;
pub mod zlib;
