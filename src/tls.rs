//! TLS for both ends, with rustls and one crypto provider named here (ring), so nothing depends
//! on a process-wide default that a feature elsewhere in the tree could make ambiguous.
//! The server loads a certificate chain and key from PEM files; the client trusts the system's
//! roots, or only the CA in a profile's `ca_file` when one is given (a private CA). A
//! certificate in `ca_file` that is the server's own certificate is trusted as it is (pinned),
//! so a self-signed certificate made with `openssl req -x509` works, though it is marked as a
//! CA, which a chain check would refuse as a server's certificate.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read certificates from {path}: {reason}")]
    Certificates { path: PathBuf, reason: String },
    #[error("{path} holds no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)")]
    NoCertificate { path: PathBuf },
    #[error("cannot read a private key from {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("the certificate and key do not make a TLS server: {0}")]
    Server(rustls::Error),
    #[error(
        "no trusted root certificates found on this system; install the ca-certificates package or set ca_file in the profile"
    )]
    NoRoots,
    #[error("cannot set up TLS: {0}")]
    Setup(rustls::Error),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS server config from a PEM certificate chain (leaf first) and its PEM private key.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = read_certificates(cert_file)?;
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| TlsError::Key {
        path: key_file.to_owned(),
        reason: e.to_string(),
    })?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(TlsError::Server)?;
    Ok(Arc::new(config))
}

/// A TLS client config that trusts `ca_file`'s certificates if given, else the system's roots.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?;
    let Some(path) = ca_file else {
        // Unreadable entries in the system store are skipped, as browsers do.
        let mut roots = RootCertStore::empty();
        let (added, _ignored) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        if added == 0 {
            return Err(TlsError::NoRoots);
        }
        return Ok(Arc::new(
            builder.with_root_certificates(roots).with_no_client_auth(),
        ));
    };
    let pinned = read_certificates(path)?;
    let mut roots = RootCertStore::empty();
    for cert in &pinned {
        roots
            .add(cert.clone())
            .map_err(|e| TlsError::Certificates {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
    }
    let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::Certificates {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let verifier = PinnedOrChain { pinned, chain };
    Ok(Arc::new(
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth(),
    ))
}

/// Trusts a server whose certificate is one of `pinned` byte for byte, or else one whose chain
/// leads to them. The handshake's signatures are checked either way.
#[derive(Debug)]
struct PinnedOrChain {
    pinned: Vec<CertificateDer<'static>>,
    chain: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for PinnedOrChain {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|cert| cert.as_ref() == end_entity.as_ref())
        {
            // Pinned, so no chain to check; the name still must be one it holds, or any
            // certificate the user ever pinned could stand in for another server.
            let parsed = ParsedCertificate::try_from(end_entity)?;
            verify_server_name(&parsed, server_name)?;
            return Ok(ServerCertVerified::assertion());
        }
        self.chain
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chain.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chain.supported_verify_schemes()
    }
}

/// What a failed handshake means for the user, and what to do, on one line.
pub fn explain(error: &rustls::Error, ca_file: Option<&Path>) -> String {
    use rustls::CertificateError as Why;
    let rustls::Error::InvalidCertificate(why) = error else {
        return format!("TLS failed: {error}");
    };
    let untrusted = match ca_file {
        Some(path) => format!(
            "the server's certificate is neither {0} nor signed by the CA in it: check that \
             ca_file names the server's certificate or its CA",
            path.display()
        ),
        None => "the server's certificate is not signed by a CA this system trusts (it is \
                 self-signed, or from a private CA): set ca_file in the profile to the \
                 server's certificate or its CA's (README: TLS)"
            .to_owned(),
    };
    match why {
        Why::NotValidForNameContext {
            expected,
            presented,
        } => format!(
            "the server's certificate is for {}, not {}: connect with a name it holds, or \
             make the certificate for this one",
            presented
                .iter()
                .map(|name| plain_name(name))
                .collect::<Vec<_>>()
                .join(", "),
            expected.to_str()
        ),
        Why::NotValidForName => "the server's certificate is not for the name connected to: \
                                 connect with a name it holds, or make the certificate for \
                                 this one"
            .to_owned(),
        Why::Expired | Why::ExpiredContext { .. } => {
            "the server's certificate has expired: the server needs a new one".to_owned()
        }
        Why::UnknownIssuer | Why::BadSignature | Why::Other(_) => untrusted,
        other => format!("the server's certificate is refused ({other:?}): {untrusted}"),
    }
}

/// A certificate's name as rustls lists it (`DnsName("chat.example.org")`,
/// `IpAddress(V4(192.0.2.7))`), as a person writes it.
fn plain_name(listed: &str) -> &str {
    let inner = listed.rsplit_once('(').map_or(listed, |(_, rest)| rest);
    inner.trim_end_matches(')').trim_matches('"')
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let unreadable = |reason: String| TlsError::Certificates {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unreadable(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_written() {
        assert_eq!(
            plain_name("DnsName(\"chat.example.org\")"),
            "chat.example.org"
        );
        assert_eq!(plain_name("IpAddress(V4(192.0.2.7))"), "192.0.2.7");
        assert_eq!(plain_name("other"), "other");
    }

    #[test]
    fn missing_or_empty_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let error = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(error.contains("nope.pem"), "{error}");

        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not pem at all\n").unwrap();
        let error = server_config(&empty, &empty).unwrap_err().to_string();
        assert!(error.contains("holds no certificate"), "{error}");
    }
}
