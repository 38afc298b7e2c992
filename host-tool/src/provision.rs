//! `wardtap provision`: make a tap's identity and key at install.
//!
//! Writes two files: the **key file** the host keeps (`tap_id` and the 32-byte key, hex, mode
//! 0600; `wardtap pull --key` reads it), and the **provisioning record** (48 bytes,
//! [`wardtap_proto::mgmt::provision`]) that goes into the tap's provisioning area with the
//! debug probe (`probe-rs download`) or, for the emulated board, QEMU's `-device loader`.
//! Provisioning needs the probe, so physical access to the board: the management line can
//! never change the key.

use crate::link::TapKey;
use std::io::{Read, Write};
use std::path::Path;
use wardtap_proto::mgmt::{provision, KEY_LEN};

/// A fresh random key from the operating system.
pub fn random_key() -> std::io::Result<[u8; KEY_LEN]> {
    let mut k = [0u8; KEY_LEN];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut k)?;
    if k == [0; KEY_LEN] {
        return Err(std::io::Error::other("the random source gave zeros"));
    }
    Ok(k)
}

/// Writes the key file (refusing to overwrite one unless `force`) and the record.
pub fn write_files(key: &TapKey, key_file: &Path, record_file: &Path, force: bool) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true);
    if force {
        opts.create(true).truncate(true);
    } else {
        opts.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(key_file)?;
    f.write_all(key.to_text().as_bytes())?;
    f.sync_all()?;
    std::fs::write(record_file, provision::encode(key.tap_id, &key.key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_roundtrip_and_are_not_overwritten() {
        let dir = std::env::temp_dir().join(format!("wardtap-provision-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (kf, rf) = (dir.join("tap.key"), dir.join("tap.bin"));
        let _ = std::fs::remove_file(&kf);
        let k = TapKey { tap_id: 5, key: random_key().unwrap() };
        write_files(&k, &kf, &rf, false).unwrap();
        assert_eq!(TapKey::load(&kf).unwrap(), k);
        assert_eq!(provision::decode(&std::fs::read(&rf).unwrap()), Some((5, k.key)));
        assert!(write_files(&k, &kf, &rf, false).is_err(), "an existing key file is kept");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&kf).unwrap().permissions().mode() & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// `wardtap provision` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ProvisionArgs {
    /// The tap's id (unique in the hospital; on its label).
    #[arg(long)]
    pub tap_id: u32,
    /// Key file to write (kept by the host; mode 0600).
    #[arg(long)]
    pub key_out: std::path::PathBuf,
    /// Provisioning record to write into the tap (48 bytes).
    #[arg(long)]
    pub record_out: std::path::PathBuf,
    /// Replace an existing key file (the tap must then be provisioned again).
    #[arg(long)]
    pub force: bool,
}

/// Runs `wardtap provision`; says how to load the record into the board.
pub fn cli(args: &ProvisionArgs, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let key = TapKey { tap_id: args.tap_id, key: random_key()? };
    write_files(&key, &args.key_out, &args.record_out, args.force)?;
    writeln!(
        out,
        "tap {}: key in {}, record in {}\n\
         NUCLEO-H743ZI: probe-rs download --chip STM32H743ZITx --binary-format bin --base-address 0x081E0000 {}\n\
         QEMU mps2-an386: -device loader,file={},addr=0x3ff000",
        key.tap_id,
        args.key_out.display(),
        args.record_out.display(),
        args.record_out.display(),
        args.record_out.display()
    )?;
    Ok(())
}
