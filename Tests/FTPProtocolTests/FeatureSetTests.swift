import Testing

@testable import FTPProtocol

@Suite struct FeatureSetTests {
    private func featReply(_ lines: [String]) -> Reply {
        Reply(code: .systemStatus, lines: lines)
    }

    @Test func vsftpd() {
        let features = FeatureSet(featReply: featReply(
            ["211-Features:", " EPRT", " EPSV", " MDTM", " PASV", " REST STREAM", " SIZE", " TVFS", "211 End"]))
        #expect(!features.supportsMLST)
        #expect(features.supportsEPSV && features.supportsMDTM && features.supportsSIZE && features.supportsREST)
        #expect(!features.supportsUTF8)
        #expect(features.parameters(of: "rest") == "STREAM")
        #expect(features.mlstFacts.isEmpty)
    }

    @Test func pyftpdlib() {
        let features = FeatureSet(featReply: featReply([
            "211-Features supported:", " EPRT", " EPSV", " MDTM", " MFMT",
            " MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;",
            " REST STREAM", " SIZE", " TVFS", " UTF8", "211 End FEAT.",
        ]))
        #expect(features.supportsMLST && features.supportsMFMT && features.supportsUTF8)
        #expect(features.mlstFacts == ["type", "perm", "size", "modify", "unique", "unix.mode", "unix.uid", "unix.gid"])
    }

    @Test func proFTPD() {
        let features = FeatureSet(featReply: featReply([
            "211-Features:", " CLNT", " LANG C.UTF-8*", " MFF modify;UNIX.group;UNIX.mode;", " MFMT",
            " MLST modify*;perm*;size*;type*;unique*;UNIX.group*;UNIX.groupname*;UNIX.mode*;UNIX.owner*;UNIX.ownername*;",
            " RANG STREAM", " UTF8", "211 End",
        ]))
        #expect(features.contains("mlst"))
        #expect(features.mlstFacts.contains("unix.mode"))
        #expect(features.parameters(of: "LANG") == "C.UTF-8*")
    }

    @Test func pureFTPd() {
        let features = FeatureSet(featReply: featReply([
            "211-Extensions supported:", " UTF8", " EPRT", " IDLE", " MDTM", " SIZE", " MFMT", " REST STREAM",
            " MLST type*;size*;sizd*;modify*;UNIX.mode*;UNIX.uid*;UNIX.gid*;unique*;", " MLSD", " PRET",
            " AUTH TLS", " PBSZ", " PROT", " TVFS", " ESTA", " PASV", " EPSV", " ESTP", "211 End.",
        ]))
        #expect(features.supportsMLST && features.contains("AUTH") && features.contains("MLSD"))
        #expect(features.parameters(of: "auth") == "TLS")
        #expect(features.mlstFacts.contains("sizd"))
    }

    @Test func lenientForms() {
        let features = FeatureSet(featReply: featReply([
            "211-Features", "MDTM", "\tSIZE", "211-UTF8", " HASH SHA-1;SHA-256*;MD5", "  ", "211 End",
        ]))
        #expect(features.supportsMDTM && features.supportsSIZE && features.supportsUTF8)
        #expect(features.hashAlgorithms == ["SHA-256", "SHA-1", "MD5"])
        #expect(features.features.count == 4)
    }

    @Test func noFeatures() {
        #expect(FeatureSet(featReply: Reply(code: .syntaxError, lines: ["500 Unknown command."])).features.isEmpty)
        #expect(FeatureSet(featReply: Reply(code: .systemStatus, lines: ["211 No features"])).features.isEmpty)
    }
}
