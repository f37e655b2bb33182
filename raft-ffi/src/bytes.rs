//! Byte views ([`raft_bytes`]), caller-owned buffers ([`raft_buf`]) and the
//! checks on bytes passed in.

use bytes::Bytes;

use crate::result::{Fail, FfiResult};

/// A read-only view of bytes owned by the library. `data` is NULL only when
/// the field is absent (an unset optional protobuf field); an empty but
/// present field has a non-NULL `data` and `len` 0. The lifetime of the view
/// is stated by the function that returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_bytes {
    /// First byte, or NULL when absent.
    pub data: *const u8,
    /// Number of bytes.
    pub len: usize,
}

static EMPTY: [u8; 1] = [0];

impl raft_bytes {
    /// The absent view (NULL, 0).
    pub const NONE: raft_bytes = raft_bytes {
        data: std::ptr::null(),
        len: 0,
    };
    /// A view of `s` (non-NULL even when empty).
    pub fn of(s: &[u8]) -> raft_bytes {
        if s.is_empty() {
            raft_bytes {
                data: EMPTY.as_ptr(),
                len: 0,
            }
        } else {
            raft_bytes {
                data: s.as_ptr(),
                len: s.len(),
            }
        }
    }
    /// A view of an optional field.
    pub fn of_opt(s: Option<&Bytes>) -> raft_bytes {
        s.map_or(raft_bytes::NONE, |b| raft_bytes::of(b))
    }
    /// Copies the viewed bytes; `None` when `data` is NULL.
    pub fn to_opt_bytes(self, what: &str) -> FfiResult<Option<Bytes>> {
        if self.data.is_null() {
            if self.len != 0 {
                return Err(Fail::null(what));
            }
            return Ok(None);
        }
        // SAFETY: `data` is non-NULL; the caller promises it points to `len`
        // readable bytes for the duration of the call.
        let s = unsafe { std::slice::from_raw_parts(self.data, self.len) };
        Ok(Some(Bytes::copy_from_slice(s)))
    }
}

/// The bytes `(ptr, len)` passed by C: NULL is accepted when `len` is 0.
pub fn in_slice<'a>(ptr: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Fail::null(what));
    }
    // SAFETY: `ptr` is non-NULL and the caller promises `len` readable bytes
    // that stay valid and unmodified for the duration of the call.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A buffer of bytes owned by the caller, released with [`raft_buf_free`].
/// The caller reads `data[0..len]` and must not change the fields.
#[repr(C)]
#[derive(Debug)]
pub struct raft_buf {
    /// First byte (NULL for an empty or released buffer).
    pub data: *mut u8,
    /// Number of bytes.
    pub len: usize,
    /// Allocation size; private to the library.
    pub capacity: usize,
}

impl raft_buf {
    /// Hands `v` to C.
    pub fn from_vec(v: Vec<u8>) -> raft_buf {
        if v.capacity() == 0 {
            return raft_buf {
                data: std::ptr::null_mut(),
                len: 0,
                capacity: 0,
            };
        }
        let mut v = std::mem::ManuallyDrop::new(v);
        raft_buf {
            data: v.as_mut_ptr(),
            len: v.len(),
            capacity: v.capacity(),
        }
    }
}

/// Releases the buffer's memory and zeroes `*buf`, so that releasing it
/// twice is harmless. Accepts NULL and an already released or zeroed buffer.
///
/// # Safety
/// `buf` is NULL or points to a `raft_buf` filled by this library (or zeroed)
/// whose fields were not changed.
#[no_mangle]
pub unsafe extern "C" fn raft_buf_free(buf: *mut raft_buf) {
    let _ = crate::guard::guard("raft_buf_free", || {
        // SAFETY: `buf` is NULL or valid for reads and writes (contract).
        let Some(b) = (unsafe { buf.as_mut() }) else {
            return Ok(());
        };
        if !b.data.is_null() && b.capacity != 0 {
            // SAFETY: data/len/capacity came from a Vec<u8> given up by
            // `raft_buf::from_vec` and are released exactly once: the struct
            // is zeroed right after.
            drop(unsafe { Vec::from_raw_parts(b.data, b.len, b.capacity) });
        }
        *b = raft_buf {
            data: std::ptr::null_mut(),
            len: 0,
            capacity: 0,
        };
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_round_trip_and_double_free() {
        let mut b = raft_buf::from_vec(vec![1, 2, 3]);
        assert_eq!(b.len, 3);
        // SAFETY: `b` was filled by from_vec.
        unsafe { raft_buf_free(&mut b) };
        assert!(b.data.is_null());
        // SAFETY: a released buffer is zeroed; freeing it again is a no-op.
        unsafe { raft_buf_free(&mut b) };
        // SAFETY: NULL is accepted.
        unsafe { raft_buf_free(std::ptr::null_mut()) };
    }

    #[test]
    fn slices_and_views() {
        assert_eq!(in_slice(std::ptr::null(), 0, "x").unwrap(), b"");
        assert!(in_slice(std::ptr::null(), 3, "x").is_err());
        let v = raft_bytes::of(b"");
        assert!(!v.data.is_null());
        assert_eq!(v.to_opt_bytes("v").unwrap().unwrap().len(), 0);
        assert_eq!(raft_bytes::NONE.to_opt_bytes("v").unwrap(), None);
        let bad = raft_bytes {
            data: std::ptr::null(),
            len: 4,
        };
        assert!(bad.to_opt_bytes("bad").is_err());
    }
}
