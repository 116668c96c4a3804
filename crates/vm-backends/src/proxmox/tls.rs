//! The API's TLS, always verified: the CA in `ca_file` (chain, name and expiry checked by
//! rustls' WebPKI verifier, trusting nothing else), or the server certificate's pinned SHA-256
//! fingerprint (the handshake signatures are still checked, so the server must hold the pinned
//! certificate's key). ureq's public TLS settings cannot take a verifier, so a small connector
//! (ureq's `unversioned` transport API, hence the `~3.5` pin in Cargo.toml) runs rustls with
//! our own `ClientConfig`. A mismatch comes back typed, with the fingerprint seen.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, OtherError,
    RootCertStore, SignatureScheme, StreamOwned,
};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

/// How the server certificate is verified. There is deliberately no "insecure" variant.
#[derive(Debug, Clone)]
pub enum Tls {
    CaFile(PathBuf),
    Fingerprint([u8; 32]),
}

// ---------------------------------------------------------------------------------------
// Fingerprints
// ---------------------------------------------------------------------------------------

/// `AB:CD:...` upper-case, colon separated: the format `pvenode cert info` prints.
pub fn format_fingerprint(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

pub fn sha256(der: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Typed error carried out of the verifier through rustls and ureq.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FingerprintMismatch {
    pub seen: [u8; 32],
    pub pinned: [u8; 32],
}

impl fmt::Display for FingerprintMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TLS certificate fingerprint mismatch: server presented {}, pinned {}; \
             check `pvenode cert info` on the node",
            format_fingerprint(&self.seen),
            format_fingerprint(&self.pinned)
        )
    }
}
impl std::error::Error for FingerprintMismatch {}

// ---------------------------------------------------------------------------------------
// Fingerprint verifier
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct FingerprintVerifier {
    pinned: [u8; 32],
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = sha256(end_entity.as_ref());
        // The fingerprint is public data: no need for a constant-time compare.
        if seen == self.pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(FingerprintMismatch {
                    seen,
                    pinned: self.pinned,
                })),
            )))
        }
    }

    // rustls calls these with the *leaf* cert the verifier just accepted: this is what
    // proves the server owns the pinned certificate's private key.
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------
// rustls ClientConfig
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
pub enum SetupError {
    CaFile(PathBuf, String),
    Rustls(rustls::Error),
}
impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::CaFile(p, e) => write!(f, "CA file {}: {e}", p.display()),
            SetupError::Rustls(e) => write!(f, "TLS setup: {e}"),
        }
    }
}
impl std::error::Error for SetupError {}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_ca(path: &Path) -> Result<RootCertStore, SetupError> {
    let err = |e: String| SetupError::CaFile(path.to_owned(), e);
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| err(e.to_string()))? {
        let cert = cert.map_err(|e| err(e.to_string()))?;
        roots.add(cert).map_err(|e| err(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(err("no CERTIFICATE blocks found".into()));
    }
    Ok(roots)
}

/// The rustls configuration for `tls`.
pub fn client_config(tls: &Tls) -> Result<ClientConfig, SetupError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions() // TLS 1.2 + 1.3
        .map_err(SetupError::Rustls)?;
    let config = match tls {
        Tls::CaFile(path) => {
            let roots = Arc::new(load_ca(path)?);
            // Same as builder.with_root_certificates(roots), spelled out to show the provider.
            let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider)
                .build()
                .map_err(|e| SetupError::Rustls(rustls::Error::General(e.to_string())))?;
            builder.with_webpki_verifier(verifier).with_no_client_auth()
        }
        Tls::Fingerprint(pinned) => builder
            .dangerous() // "dangerous" only because we replace WebPKI; we still verify.
            .with_custom_certificate_verifier(Arc::new(FingerprintVerifier {
                pinned: *pinned,
                algs: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(config)
}

// ---------------------------------------------------------------------------------------
// ureq connector that uses our ClientConfig
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct OwnRustlsConnector {
    config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for OwnRustlsConnector {
    type Out = Either<In, OwnRustlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let authority = details
            .uri
            .authority()
            .ok_or(ureq::Error::Tls("uri without host"))?;
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let name = ServerName::try_from(host)
            .map_err(|_| ureq::Error::Tls("invalid TLS server name"))?
            .to_owned();

        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout); // connect timeout also bounds the handshake
        conn.complete_io(&mut sock).map_err(handshake_error)?;

        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(OwnRustlsTransport {
            buffers,
            stream: StreamOwned { conn, sock },
        })))
    }
}

/// rustls' complete_io wraps a rustls::Error in io::Error(InvalidData). Unwrap it so the
/// caller gets `ureq::Error::Rustls(..)` (and from it, our typed mismatch); keep everything
/// else (timeouts are ureq errors wrapped in io::Error) going through ureq's own From.
fn handshake_error(e: std::io::Error) -> ureq::Error {
    if e.get_ref().is_some_and(|i| i.is::<rustls::Error>()) {
        return match e
            .into_inner()
            .map(|inner| inner.downcast::<rustls::Error>())
        {
            Some(Ok(inner)) => ureq::Error::Rustls(*inner),
            _ => ureq::Error::Tls("TLS handshake failed"),
        };
    }
    ureq::Error::from(e)
}

struct OwnRustlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for OwnRustlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnRustlsTransport")
            .field("chained", &self.stream.sock.inner())
            .finish()
    }
}

impl Transport for OwnRustlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }
    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }
    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }
    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }
    fn is_tls(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------
// The agent
// ---------------------------------------------------------------------------------------

/// A ureq agent that verifies the API's certificate as `tls` says: https only, no proxy from
/// the environment, no redirects (the token must go nowhere else), `timeout` per call.
pub fn agent(tls: &Tls, timeout: Duration) -> Result<ureq::Agent, SetupError> {
    let connector = ().chain(TcpConnector::default()).chain(OwnRustlsConnector {
        config: Arc::new(client_config(tls)?),
    });
    let config = ureq::Agent::config_builder()
        .https_only(true) // never send the API token over plain http
        .proxy(None) // default reads HTTP(S)_PROXY from env; our chain has no proxy connector
        .http_status_as_error(false) // we want the JSON body of 4xx/5xx (PVE puts errors there)
        .timeout_connect(Some(Duration::from_secs(10))) // TCP connect + TLS handshake
        .timeout_global(Some(timeout)) // whole call incl. body
        .max_redirects(0) // PVE API doesn't redirect; don't leak Authorization
        .user_agent(concat!("vm/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(ureq::Agent::with_parts(
        config,
        connector,
        DefaultResolver::default(),
    ))
}

/// Pull our typed mismatch out of a ureq error, if that is what it is.
pub fn fingerprint_mismatch(e: &ureq::Error) -> Option<&FingerprintMismatch> {
    match e {
        ureq::Error::Rustls(rustls::Error::InvalidCertificate(CertificateError::Other(
            OtherError(inner),
        ))) => inner.downcast_ref::<FingerprintMismatch>(),
        _ => None,
    }
}

/// Human-readable message for the CLI.
pub fn describe(e: &ureq::Error) -> String {
    if let Some(m) = fingerprint_mismatch(e) {
        return m.to_string();
    }
    match e {
        ureq::Error::Rustls(rustls::Error::InvalidCertificate(ce)) => {
            format!(
                "TLS certificate rejected: {ce:?} (is ca_file the CA that signed the node certificate?)"
            )
        }
        ureq::Error::Timeout(t) => format!("timeout ({t})"),
        other => other.to_string(),
    }
}
