import CTLS

/// Server certificates as a user needs to hear about them: why one was refused, and how to
/// trust it anyway when they know it is right.
enum TLSCertificate {
    /// SHA-256 of the certificate's DER encoding.
    static func sha256(_ certificate: OpaquePointer) -> [UInt8]? {
        var digest = [UInt8](repeating: 0, count: 32)
        return ctls_certificate_sha256(certificate, &digest) == 1 ? digest : nil
    }

    /// `SHA256:AB:CD:…`, the form `-o tls_fingerprint=` takes and `openssl x509 -fingerprint
    /// -sha256` prints.
    static func format(_ digest: [UInt8]) -> String {
        let hex: [Character] = Array("0123456789ABCDEF")
        return "SHA256:" + digest.map { String([hex[Int($0 >> 4)], hex[Int($0 & 15)]]) }.joined(separator: ":")
    }

    static func names(_ certificate: OpaquePointer) -> String {
        text { ctls_certificate_names(certificate, $0, $1) }
    }

    static func subject(_ certificate: OpaquePointer) -> String {
        text { ctls_certificate_subject(certificate, $0, $1) }
    }

    static func notBefore(_ certificate: OpaquePointer) -> String {
        text { ctls_certificate_not_before(certificate, $0, $1) }
    }

    static func notAfter(_ certificate: OpaquePointer) -> String {
        text { ctls_certificate_not_after(certificate, $0, $1) }
    }

    private static func text(_ fill: (UnsafeMutablePointer<CChar>, Int) -> Int) -> String {
        var buffer = [CChar](repeating: 0, count: 1024)
        let length = buffer.withUnsafeMutableBufferPointer { fill($0.baseAddress!, $0.count) }
        return length > 0 ? String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
    }

    /// Why verification refused the server's certificate, and what the user can do about it.
    ///
    /// - Parameters:
    ///   - code: the X509_V_ERR_* code.
    ///   - leaf: the server's own certificate (for the fingerprint to pin).
    ///   - atFault: the certificate the problem was found in (the leaf, or a CA above it).
    static func verificationFailure(code: Int32, depth: Int32, leaf: OpaquePointer?, atFault: OpaquePointer?,
                                    host: String, verification: TLSConfiguration.Verification) -> String
    {
        let reason = String(cString: X509_verify_cert_error_string(Int(code)))
        let culprit = atFault ?? leaf
        let whose = depth == 0 ? "the server's certificate" : "a CA certificate in the server's chain"
        let trustedStore: String = if case .caFile(let path) = verification { "the CA file \(path)" } else {
            "this system's CA store"
        }
        var what: String
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            what = "\(whose) has expired (\(reason): not valid after \(culprit.map(notAfter) ?? "?"))"
        case X509_V_ERR_CERT_NOT_YET_VALID:
            what = "\(whose) is not valid yet (\(reason): valid from \(culprit.map(notBefore) ?? "?")); check this computer's clock"
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            what = "the server's certificate is self-signed (\(reason): \(culprit.map(subject) ?? "?")), and nothing vouches for it"
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            what = "the server's certificate chains up to a CA that \(trustedStore) does not trust (\(reason): \(culprit.map(subject) ?? "?"))"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
             X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
            what = "the server's certificate was issued by a CA that \(trustedStore) does not know (\(reason); certificate: \(culprit.map(subject) ?? "?"))"
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            what = "the server's certificate is not valid for '\(host)' (\(reason)): it names \(leaf.map(names) ?? "?")"
        case X509_V_ERR_CERT_REVOKED:
            what = "\(whose) has been revoked (\(reason))"
        default:
            what = "\(whose) failed verification (\(reason), X509 error \(code))"
        }
        what = "certificate verification failed: " + what
        guard let leaf, let digest = sha256(leaf) else { return what }
        let fingerprint = format(digest)
        var advice = ". If you trust this server, pin its certificate with -o tls_fingerprint=\(fingerprint)"
        switch code {
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            advice += ", or connect with a name the certificate lists"
        case X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID:
            break
        default:
            advice += ", or give the CA that signed it with -o cafile=FILE"
        }
        return what + advice
    }

    static func pinMismatch(expected: [UInt8], certificate: OpaquePointer, host: String) -> String {
        let actual = sha256(certificate).map(format) ?? "?"
        return """
            the server's certificate does not match -o tls_fingerprint=\(format(expected)): \(host) presented \
            \(actual) (\(subject(certificate))). If you know the server's certificate was replaced, pin the new one \
            with -o tls_fingerprint=\(actual); otherwise someone may be intercepting the connection
            """
    }
}
