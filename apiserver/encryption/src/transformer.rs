//! Value transformers: the byte formats written to etcd.
//!
//! Each stored value is `<provider prefix><key name>:<cipher payload>`, e.g.
//! `k8s:enc:aescbc:v1:key1:` followed by IV and ciphertext. The formats match
//! upstream byte for byte so an etcd written by either server can be read by the other.

use std::fmt;
use std::sync::Arc;

use aes::cipher::block_padding::{NoPadding, Pkcs7};
use aes::cipher::consts::U12;
use aes::cipher::{
    BlockCipher, BlockDecrypt, BlockDecryptMut, BlockEncrypt, BlockEncryptMut, BlockSizeUser, InnerIvInit, KeyInit,
};
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::{Aead, OsRng, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use crypto_secretbox::XSalsa20Poly1305;

use crate::error::{Error, Result};

/// Every encrypted value starts with this; identity refuses to return such data
/// as plaintext so a misconfiguration never serves ciphertext to clients.
pub const ENCRYPTED_PREFIX: &[u8] = b"k8s:enc:";

const AES_BLOCK: usize = 16;
const GCM_NONCE: usize = 12;
const SECRETBOX_NONCE: usize = 24;
const SECRETBOX_TAG: usize = 16;

type Aes192Gcm = AesGcm<Aes192, U12>;

/// The cipher families that can appear in a config, with their wire prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    AesCbc,
    AesGcm,
    Secretbox,
}

impl Kind {
    pub(crate) fn prefix(self) -> &'static [u8] {
        match self {
            Kind::AesCbc => b"k8s:enc:aescbc:v1:",
            Kind::AesGcm => b"k8s:enc:aesgcm:v1:",
            Kind::Secretbox => b"k8s:enc:secretbox:v1:",
        }
    }

    /// Name used in upstream's "no matching key" message.
    fn family(self) -> &'static str {
        match self {
            Kind::AesCbc | Kind::AesGcm => "AES",
            Kind::Secretbox => "Secretbox",
        }
    }

    pub(crate) fn config_name(self) -> &'static str {
        match self {
            Kind::AesCbc => "aescbc",
            Kind::AesGcm => "aesgcm",
            Kind::Secretbox => "secretbox",
        }
    }

    /// Accepted raw key lengths, as upstream validates them.
    pub(crate) fn key_sizes(self) -> &'static [usize] {
        match self {
            Kind::AesCbc | Kind::AesGcm => &[16, 24, 32],
            Kind::Secretbox => &[32],
        }
    }
}

/// A ready-to-use key; the AES key schedule is computed once at load time.
#[derive(Clone)]
enum KeyCipher {
    Cbc128(Aes128),
    Cbc192(Aes192),
    Cbc256(Aes256),
    Gcm128(Box<Aes128Gcm>),
    Gcm192(Box<Aes192Gcm>),
    Gcm256(Box<Aes256Gcm>),
    Secretbox(Box<XSalsa20Poly1305>),
}

impl KeyCipher {
    /// `None` only for lengths validation already rejects.
    fn new(kind: Kind, key: &[u8]) -> Option<KeyCipher> {
        Some(match (kind, key.len()) {
            (Kind::AesCbc, 16) => KeyCipher::Cbc128(Aes128::new_from_slice(key).ok()?),
            (Kind::AesCbc, 24) => KeyCipher::Cbc192(Aes192::new_from_slice(key).ok()?),
            (Kind::AesCbc, 32) => KeyCipher::Cbc256(Aes256::new_from_slice(key).ok()?),
            (Kind::AesGcm, 16) => KeyCipher::Gcm128(Box::new(Aes128Gcm::new_from_slice(key).ok()?)),
            (Kind::AesGcm, 24) => KeyCipher::Gcm192(Box::new(Aes192Gcm::new_from_slice(key).ok()?)),
            (Kind::AesGcm, 32) => KeyCipher::Gcm256(Box::new(Aes256Gcm::new_from_slice(key).ok()?)),
            (Kind::Secretbox, 32) => KeyCipher::Secretbox(Box::new(XSalsa20Poly1305::new_from_slice(key).ok()?)),
            _ => return None,
        })
    }

    fn seal(&self, plaintext: &[u8], ctx: &[u8]) -> Result<Vec<u8>> {
        match self {
            KeyCipher::Cbc128(c) => cbc_seal(c, plaintext),
            KeyCipher::Cbc192(c) => cbc_seal(c, plaintext),
            KeyCipher::Cbc256(c) => cbc_seal(c, plaintext),
            KeyCipher::Gcm128(c) => gcm_seal(c.as_ref(), plaintext, ctx),
            KeyCipher::Gcm192(c) => gcm_seal(c.as_ref(), plaintext, ctx),
            KeyCipher::Gcm256(c) => gcm_seal(c.as_ref(), plaintext, ctx),
            KeyCipher::Secretbox(c) => secretbox_seal(c, plaintext),
        }
    }

    fn open(&self, data: &[u8], ctx: &[u8]) -> Result<Vec<u8>> {
        match self {
            KeyCipher::Cbc128(c) => cbc_open(c, data),
            KeyCipher::Cbc192(c) => cbc_open(c, data),
            KeyCipher::Cbc256(c) => cbc_open(c, data),
            KeyCipher::Gcm128(c) => gcm_open(c.as_ref(), data, ctx),
            KeyCipher::Gcm192(c) => gcm_open(c.as_ref(), data, ctx),
            KeyCipher::Gcm256(c) => gcm_open(c.as_ref(), data, ctx),
            KeyCipher::Secretbox(c) => secretbox_open(c, data),
        }
    }
}

fn random_bytes(buf: &mut [u8]) -> Result<()> {
    OsRng.try_fill_bytes(buf).map_err(|_| Error::Random)
}

/// AES-CBC: random 16-byte IV, then PKCS#7-padded ciphertext. Not authenticated,
/// which is why upstream recommends against it; kept for compatibility.
fn cbc_seal<C>(cipher: &C, plaintext: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipher + BlockEncrypt + BlockSizeUser<BlockSize = aes::cipher::consts::U16> + Clone,
{
    let mut iv = [0u8; AES_BLOCK];
    random_bytes(&mut iv)?;
    let enc = cbc::Encryptor::<C>::inner_iv_init(cipher.clone(), &iv.into());
    let ct = enc.encrypt_padded_vec_mut::<Pkcs7>(plaintext);
    let mut out = Vec::with_capacity(AES_BLOCK + ct.len());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn cbc_open<C>(cipher: &C, data: &[u8]) -> Result<Vec<u8>>
where
    C: BlockCipher + BlockDecrypt + BlockSizeUser<BlockSize = aes::cipher::consts::U16> + Clone,
{
    let (Some(iv), Some(body)) = (data.get(..AES_BLOCK), data.get(AES_BLOCK..)) else {
        return Err(Error::ShortData);
    };
    if body.len() % AES_BLOCK != 0 {
        return Err(Error::InvalidBlockSize);
    }
    if body.is_empty() {
        return Err(Error::InvalidPkcs7Data);
    }
    let mut iv_arr = [0u8; AES_BLOCK];
    iv_arr.copy_from_slice(iv);
    let dec = cbc::Decryptor::<C>::inner_iv_init(cipher.clone(), &iv_arr.into());
    let mut out = dec.decrypt_padded_vec_mut::<NoPadding>(body).map_err(|_| Error::InvalidBlockSize)?;
    // Unpad exactly as upstream does, so both accept and reject the same inputs.
    let pad = match out.last() {
        Some(&b) => b,
        None => return Err(Error::InvalidPkcs7Data),
    };
    let pad_len = usize::from(pad);
    if pad_len == 0 || pad_len > out.len() {
        return Err(Error::InvalidPkcs7Data);
    }
    let keep = out.len() - pad_len;
    if out[keep..].iter().any(|&b| b != pad) {
        return Err(Error::InvalidPkcs7Padding);
    }
    out.truncate(keep);
    Ok(out)
}

/// AES-GCM: random 12-byte nonce, then ciphertext||tag, with the etcd key as
/// associated data so a value copied to another key fails to decrypt.
fn gcm_seal<A>(aead: &A, plaintext: &[u8], ctx: &[u8]) -> Result<Vec<u8>>
where
    A: Aead + aes_gcm::AeadCore<NonceSize = U12>,
{
    let mut nonce = [0u8; GCM_NONCE];
    random_bytes(&mut nonce)?;
    let ct = aead
        .encrypt(&nonce.into(), Payload { msg: plaintext, aad: ctx })
        .map_err(|_| Error::EncryptFailed { provider: "aesgcm" })?;
    let mut out = Vec::with_capacity(GCM_NONCE + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn gcm_open<A>(aead: &A, data: &[u8], ctx: &[u8]) -> Result<Vec<u8>>
where
    A: Aead + aes_gcm::AeadCore<NonceSize = U12>,
{
    let (Some(nonce), Some(body)) = (data.get(..GCM_NONCE), data.get(GCM_NONCE..)) else {
        return Err(Error::ShortData);
    };
    let mut n = [0u8; GCM_NONCE];
    n.copy_from_slice(nonce);
    aead.decrypt(&n.into(), Payload { msg: body, aad: ctx }).map_err(|_| Error::AuthFailed { provider: "aesgcm" })
}

/// NaCl secretbox: random 24-byte nonce, then tag||ciphertext (NaCl order).
/// Upstream does not bind the etcd key here, so neither do we.
fn secretbox_seal(aead: &XSalsa20Poly1305, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; SECRETBOX_NONCE];
    random_bytes(&mut nonce)?;
    let ct = aead.encrypt(&nonce.into(), plaintext).map_err(|_| Error::EncryptFailed { provider: "secretbox" })?;
    let mut out = Vec::with_capacity(SECRETBOX_NONCE + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

fn secretbox_open(aead: &XSalsa20Poly1305, data: &[u8]) -> Result<Vec<u8>> {
    if data.len() < SECRETBOX_NONCE + SECRETBOX_TAG {
        return Err(Error::ShortData);
    }
    let (nonce, body) = data.split_at(SECRETBOX_NONCE);
    let mut n = [0u8; SECRETBOX_NONCE];
    n.copy_from_slice(nonce);
    aead.decrypt(&n.into(), body).map_err(|_| Error::AuthFailed { provider: "secretbox" })
}

/// One named key within a provider; its name is written into every value so
/// reads can pick the right key after rotation.
#[derive(Clone)]
pub(crate) struct NamedKey {
    name: String,
    cipher: KeyCipher,
}

impl NamedKey {
    /// `None` if the key length does not suit `kind` (validation rejects that first).
    pub(crate) fn new(kind: Kind, name: &str, key: &[u8]) -> Option<NamedKey> {
        Some(NamedKey { name: name.to_owned(), cipher: KeyCipher::new(kind, key)? })
    }
}

/// One `providers:` list element.
#[derive(Clone)]
pub(crate) enum Provider {
    Identity,
    Keyed { kind: Kind, keys: Vec<NamedKey> },
}

impl Provider {
    /// Mirrors upstream's per-provider key selection: write with the first key,
    /// read with any key whose `name:` prefix matches, trying them all before failing.
    fn open_keyed(kind: Kind, keys: &[NamedKey], data: &[u8], ctx: &[u8]) -> Result<(Vec<u8>, bool)> {
        let mut errs = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let Some(rest) = strip_name_prefix(data, &key.name) else {
                continue;
            };
            match key.cipher.open(rest, ctx) {
                Ok(plain) => return Ok((plain, i != 0)),
                Err(e) => errs.push(e),
            }
        }
        if errs.is_empty() {
            Err(Error::NoMatchingKey { provider: kind.family() })
        } else {
            Err(Error::reduce(errs))
        }
    }
}

fn strip_name_prefix<'a>(data: &'a [u8], name: &str) -> Option<&'a [u8]> {
    data.strip_prefix(name.as_bytes())?.strip_prefix(b":")
}

/// Encrypts values for one resource and decrypts whatever older configs wrote.
///
/// Writes always use the first provider (and its first key); reads try every
/// provider whose prefix matches, so rotating a key is: prepend the new key,
/// restart, rewrite every object, drop the old key.
#[derive(Clone)]
pub struct Transformer {
    /// Empty means "no encryption configured" (see [`Transformer::identity`]).
    providers: Vec<Arc<Provider>>,
}

impl fmt::Debug for Transformer {
    // Hand-written so key material can never end up in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        if self.providers.is_empty() {
            list.entry(&"identity(default)");
        }
        for p in &self.providers {
            match p.as_ref() {
                Provider::Identity => list.entry(&"identity"),
                Provider::Keyed { kind, keys } => {
                    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
                    list.entry(&format_args!("{}{:?}", kind.config_name(), names))
                }
            };
        }
        list.finish()
    }
}

impl Transformer {
    pub(crate) fn new(providers: Vec<Arc<Provider>>) -> Transformer {
        Transformer { providers }
    }

    /// Upstream's behaviour for resources no config entry covers: store
    /// plaintext, and refuse to hand back data that is actually encrypted.
    pub fn identity() -> Transformer {
        Transformer { providers: Vec::new() }
    }

    /// True when writes are stored as plaintext (first provider is identity).
    pub fn writes_plaintext(&self) -> bool {
        matches!(self.providers.first().map(AsRef::as_ref), None | Some(Provider::Identity))
    }

    /// Transform a value for storage using the first provider. `ctx` is the etcd
    /// key; AES-GCM authenticates it, the other providers ignore it.
    pub fn encrypt(&self, plaintext: &[u8], ctx: &[u8]) -> Result<Vec<u8>> {
        match self.providers.first().map(AsRef::as_ref) {
            None | Some(Provider::Identity) => Ok(plaintext.to_vec()),
            Some(Provider::Keyed { kind, keys }) => {
                // Validation guarantees at least one key; stay total anyway.
                let key = keys.first().ok_or(Error::NoMatchingKey { provider: kind.family() })?;
                let sealed = key.cipher.seal(plaintext, ctx)?;
                let prefix = kind.prefix();
                let mut out = Vec::with_capacity(prefix.len() + key.name.len() + 1 + sealed.len());
                out.extend_from_slice(prefix);
                out.extend_from_slice(key.name.as_bytes());
                out.push(b':');
                out.extend_from_slice(&sealed);
                Ok(out)
            }
        }
    }

    /// Recover a stored value. The flag is `true` ("stale") when the value was
    /// not written by the current first provider/key, telling the caller to
    /// rewrite it so storage migrates to the new key.
    pub fn decrypt(&self, stored: &[u8], ctx: &[u8]) -> Result<(Vec<u8>, bool)> {
        if self.providers.is_empty() {
            if stored.starts_with(ENCRYPTED_PREFIX) {
                return Err(Error::IdentityEncrypted);
            }
            return Ok((stored.to_vec(), false));
        }
        let mut errs = Vec::new();
        for (i, provider) in self.providers.iter().enumerate() {
            match provider.as_ref() {
                Provider::Identity => {
                    // Identity's refusal is not an error here: a later provider may
                    // own the data (e.g. while migrating away from encryption).
                    if !stored.starts_with(ENCRYPTED_PREFIX) {
                        return Ok((stored.to_vec(), i != 0));
                    }
                }
                Provider::Keyed { kind, keys } => {
                    let Some(rest) = stored.strip_prefix(kind.prefix()) else {
                        continue;
                    };
                    // Never stop at a failed match: the same provider type may be
                    // listed twice with different keys during rotation.
                    match Provider::open_keyed(*kind, keys, rest, ctx) {
                        Ok((plain, stale)) => return Ok((plain, stale || i != 0)),
                        Err(e) => errs.push(e),
                    }
                }
            }
        }
        if errs.is_empty() {
            Err(Error::NoMatchingPrefix)
        } else {
            Err(Error::reduce(errs))
        }
    }
}
