//! Just enough ELF to find a section by name: the Go and cargo-auditable
//! analyzers need `.go.buildinfo` and `.dep-v0`. Every read is bounds-checked;
//! a malformed file yields `None`, never a panic.

/// The bytes of the section called `name`, if the file is ELF and has it.
pub(crate) fn section<'a>(file: &'a [u8], name: &str) -> Option<&'a [u8]> {
    if !file.starts_with(b"\x7fELF") {
        return None;
    }
    let is_64 = match file.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let little = match file.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let read = |at: usize, width: usize| -> Option<u64> {
        let bytes = file.get(at..at.checked_add(width)?)?;
        let mut value = 0u64;
        for index in 0..width {
            let byte = if little {
                bytes[width - 1 - index]
            } else {
                bytes[index]
            };
            value = (value << 8) | u64::from(byte);
        }
        Some(value)
    };
    let (shoff, shentsize, shnum, shstrndx) = if is_64 {
        (read(40, 8)?, read(58, 2)?, read(60, 2)?, read(62, 2)?)
    } else {
        (read(32, 4)?, read(46, 2)?, read(48, 2)?, read(50, 2)?)
    };
    let header = |index: u64| -> Option<(u64, u64, u64, u64)> {
        let base = usize::try_from(shoff.checked_add(index.checked_mul(shentsize)?)?).ok()?;
        if is_64 {
            Some((
                read(base, 4)?,
                read(base + 4, 4)?,
                read(base + 24, 8)?,
                read(base + 32, 8)?,
            ))
        } else {
            Some((
                read(base, 4)?,
                read(base + 4, 4)?,
                read(base + 16, 4)?,
                read(base + 20, 4)?,
            ))
        }
    };
    let bytes_of = |offset: u64, size: u64| -> Option<&'a [u8]> {
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(size).ok()?)?;
        file.get(start..end)
    };
    let (_, _, names_offset, names_size) = header(shstrndx)?;
    let names = bytes_of(names_offset, names_size)?;
    for index in 0..shnum {
        let (name_offset, kind, offset, size) = header(index)?;
        let Some(rest) = names.get(usize::try_from(name_offset).ok()?..) else {
            continue;
        };
        let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
        const SHT_NOBITS: u64 = 8;
        if &rest[..end] == name.as_bytes() && kind != SHT_NOBITS {
            return bytes_of(offset, size);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sections_by_name_and_survives_garbage() {
        let elf =
            airlock_testkit::fixtures::elf_with_sections(&[(".a", b"hello"), (".b", b"world")]);
        assert_eq!(section(&elf, ".b"), Some(&b"world"[..]));
        assert_eq!(section(&elf, ".c"), None);
        for cut in [4, 20, 64, elf.len() - 40] {
            assert_eq!(section(&elf[..cut], ".b"), None);
        }
        let mut lying = elf.clone();
        lying[40..48].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(section(&lying, ".b"), None);
    }
}
