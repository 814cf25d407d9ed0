//! What the library asks of the operating system: random bytes and, on Windows, the registry's
//! keep-alive setting. Nothing else: the library does no I/O.

use crate::error::{Error, Result};

/// Fills `buf` from the OS's cryptographically strong random source.
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    imp::random_bytes(buf)
}

/// On Windows the registry value `HKLM\SOFTWARE\Microsoft\WebSocket\KeepaliveInterval`
/// (DWORD) if present; `None` elsewhere or when it is absent. The policy applied to it is
/// `config::keepalive_interval_ms`.
pub fn registry_keepalive() -> Option<u32> {
    imp::registry_keepalive()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod imp {
    use super::*;

    pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            let rest = &mut buf[filled..];
            // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes.
            let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::Internal);
            }
            filled += n as usize;
        }
        Ok(())
    }

    pub fn registry_keepalive() -> Option<u32> {
        None
    }
}

#[cfg(windows)]
mod imp {
    use super::*;
    use libc::c_void;

    const BCRYPT_USE_SYSTEM_PREFERRED_RNG: u32 = 0x0000_0002;
    const HKEY_LOCAL_MACHINE: isize = 0x8000_0002_u32 as i32 as isize;
    const RRF_RT_REG_DWORD: u32 = 0x0000_0010;

    #[link(name = "bcrypt")]
    extern "system" {
        fn BCryptGenRandom(alg: *mut c_void, buf: *mut u8, len: u32, flags: u32) -> i32;
    }

    #[link(name = "advapi32")]
    extern "system" {
        fn RegGetValueA(
            key: isize,
            subkey: *const u8,
            value: *const u8,
            flags: u32,
            ty: *mut u32,
            data: *mut c_void,
            size: *mut u32,
        ) -> i32;
    }

    pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
        for chunk in buf.chunks_mut(u32::MAX as usize) {
            // SAFETY: `chunk` is writable for its length; NULL algorithm with the system RNG flag.
            let status = unsafe {
                BCryptGenRandom(
                    core::ptr::null_mut(),
                    chunk.as_mut_ptr(),
                    chunk.len() as u32,
                    BCRYPT_USE_SYSTEM_PREFERRED_RNG,
                )
            };
            if status != 0 {
                return Err(Error::Internal);
            }
        }
        Ok(())
    }

    pub fn registry_keepalive() -> Option<u32> {
        let mut value: u32 = 0;
        let mut size: u32 = 4;
        // SAFETY: NUL-terminated names; `value`/`size` are valid for a DWORD result.
        let status = unsafe {
            RegGetValueA(
                HKEY_LOCAL_MACHINE,
                b"SOFTWARE\\Microsoft\\WebSocket\0".as_ptr(),
                b"KeepaliveInterval\0".as_ptr(),
                RRF_RT_REG_DWORD,
                core::ptr::null_mut(),
                (&mut value as *mut u32).cast(),
                &mut size,
            )
        };
        if status == 0 {
            Some(value)
        } else {
            None
        }
    }
}

#[cfg(not(any(windows, target_os = "linux", target_os = "android")))]
mod imp {
    use super::*;
    use std::io::Read;

    pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf)).map_err(|_| Error::Internal)
    }

    pub fn registry_keepalive() -> Option<u32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_are_random() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        random_bytes(&mut a).unwrap();
        random_bytes(&mut b).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn no_registry_off_windows() {
        if !cfg!(windows) {
            assert_eq!(registry_keepalive(), None);
        }
    }
}
