//! Last-error messages: one per thread ([`raft_last_error`]) and one per
//! handle ([`HandleState`]), like `sqlite3_errmsg`.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, CString};

thread_local! {
    static THREAD_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// A C string from `msg`, with interior NUL bytes replaced.
pub fn c_string(msg: &str) -> CString {
    CString::new(msg.replace('\0', "\\0")).unwrap_or_default()
}

/// Records `msg` as the calling thread's last error.
pub fn set_thread_error(msg: &str) {
    let c = c_string(msg);
    // `try_with` fails only while the thread is being torn down; the message
    // is then dropped, which is harmless.
    let _ = THREAD_ERROR.try_with(|e| *e.borrow_mut() = c);
}

/// Returns the message of the most recent failed call made by the calling
/// thread, or "" if none failed. Never NULL. The string is owned by the
/// library and stays valid until the next failing call on the same thread.
#[no_mangle]
pub extern "C" fn raft_last_error() -> *const c_char {
    THREAD_ERROR
        .try_with(|e| e.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}

/// The per-handle part every handle carries: its last error and whether a
/// panic poisoned it.
#[derive(Debug, Default)]
pub struct HandleState {
    poisoned: Cell<bool>,
    last_error: RefCell<CString>,
}

impl HandleState {
    /// Records `msg` as the handle's (and the thread's) last error.
    pub fn set_error(&self, msg: &str) {
        set_thread_error(msg);
        if let Ok(mut e) = self.last_error.try_borrow_mut() {
            *e = c_string(msg);
        }
    }
    /// The handle's last error message (valid until the next failing call
    /// on the handle or its release).
    pub fn error_ptr(&self) -> *const c_char {
        match self.last_error.try_borrow() {
            Ok(e) => e.as_ptr(),
            Err(_) => c"".as_ptr(),
        }
    }
    /// Whether a panic made the handle unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.get()
    }
    /// Marks the handle unusable.
    pub fn poison(&self) {
        self.poisoned.set(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn thread_msg() -> String {
        // SAFETY: raft_last_error returns a valid NUL-terminated string that
        // lives until the next failing call on this thread.
        unsafe { CStr::from_ptr(raft_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn thread_and_handle_messages() {
        set_thread_error("first");
        assert_eq!(thread_msg(), "first");
        let h = HandleState::default();
        // SAFETY: error_ptr returns a pointer into the handle's CString.
        assert_eq!(unsafe { CStr::from_ptr(h.error_ptr()) }.to_bytes(), b"");
        h.set_error("bad\0input");
        // SAFETY: as above.
        let m = unsafe { CStr::from_ptr(h.error_ptr()) }
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(m, "bad\\0input");
        assert_eq!(thread_msg(), "bad\\0input");
        assert!(!h.is_poisoned());
        h.poison();
        assert!(h.is_poisoned());
    }
}
