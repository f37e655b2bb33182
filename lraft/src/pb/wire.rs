//! A small protobuf wire codec used where field presence matters (the Lua
//! objects remember which fields were set; prost's generated types do not).

/// Wire type of varint fields.
pub const VARINT: u8 = 0;
/// Wire type of length-delimited fields.
pub const LEN: u8 = 2;

/// Appends `v` as a base-128 varint.
pub fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// The encoded length of `v` as a varint.
pub fn varint_len(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Appends a field key.
pub fn put_key(buf: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(buf, (u64::from(field) << 3) | u64::from(wire_type));
}

/// Appends a varint field.
pub fn put_uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    put_key(buf, field, VARINT);
    put_varint(buf, v);
}

/// Appends a length-delimited field.
pub fn put_bytes(buf: &mut Vec<u8>, field: u32, v: &[u8]) {
    put_key(buf, field, LEN);
    put_varint(buf, v.len() as u64);
    buf.extend_from_slice(v);
}

/// Encoded size of a varint field (field numbers below 16 only).
pub fn uint_len(v: u64) -> usize {
    1 + varint_len(v)
}

/// Encoded size of a length-delimited field of `n` bytes (field numbers
/// below 16 only).
pub fn bytes_len(n: usize) -> usize {
    1 + varint_len(n as u64) + n
}

/// A cursor over encoded bytes. Every read returns `None` on malformed or
/// truncated input.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// True when every byte was consumed.
    pub fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// Reads a varint.
    pub fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    /// Reads a field key: (field number, wire type).
    pub fn key(&mut self) -> Option<(u32, u8)> {
        let k = self.varint()?;
        let field = u32::try_from(k >> 3).ok()?;
        if field == 0 {
            return None;
        }
        Some((field, (k & 7) as u8))
    }

    /// Reads a length-delimited payload.
    pub fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Skips a field of wire type `wt`.
    pub fn skip(&mut self, wt: u8) -> Option<()> {
        match wt {
            0 => {
                self.varint()?;
            }
            1 => self.advance(8)?,
            2 => {
                self.bytes()?;
            }
            5 => self.advance(4)?,
            _ => return None,
        }
        Some(())
    }

    fn advance(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        if end > self.buf.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// Reads a varint field value and checks the wire type.
    pub fn uint(&mut self, wt: u8) -> Option<u64> {
        if wt != VARINT {
            return None;
        }
        self.varint()
    }

    /// Reads a length-delimited field value and checks the wire type.
    pub fn len_field(&mut self, wt: u8) -> Option<&'a [u8]> {
        if wt != LEN {
            return None;
        }
        self.bytes()
    }
}
