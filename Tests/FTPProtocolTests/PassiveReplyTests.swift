import Testing

@testable import FTPProtocol

@Suite struct PassiveReplyTests {
    @Test(arguments: [
        ("227 Entering Passive Mode (127,0,0,1,156,107).", "127.0.0.1", 40043),  // vsftpd
        ("227 Entering passive mode (127,0,0,1,157,33).", "127.0.0.1", 40225),  // pyftpdlib
        ("227 Entering Passive Mode (127,0,0,1,158,9)", "127.0.0.1", 40457),  // Pure-FTPd
        ("227 Entering Passive Mode (127,0,0,1,195,80).", "127.0.0.1", 50000),
        ("227 Entering Passive Mode 127,0,0,1,195,80", "127.0.0.1", 50000),
        ("227 =127,0,0,1,195,80", "127.0.0.1", 50000),
        ("227 Entering Passive Mode (10, 0, 0, 1, 4, 1)", "10.0.0.1", 1025),
        ("227 Passive (192,168,100,200,255,255)", "192.168.100.200", 65535),
        ("227 Entering Passive Mode (1234,1,2,3,4,5,6,7)", "1.2.3.4", 1286),
    ] as [(String, String, UInt16)])
    func pasv(_ text: String, host: String, port: UInt16) throws {
        let address = try #require(PassiveReply.parsePASV(text))
        #expect(address.host == host)
        #expect(address.port == port)
    }

    @Test(arguments: [
        "227 Entering Passive Mode",
        "227 Entering Passive Mode (127,0,0,1,195)",
        "227 Entering Passive Mode (256,0,0,1,195,80)",
        "227 Entering Passive Mode (127,0,0,1,0,0)",
        "227 Entering Passive Mode (127;0;0;1;195;80)",
        "",
    ])
    func pasvRejects(_ text: String) {
        #expect(PassiveReply.parsePASV(text) == nil)
    }

    @Test(arguments: [
        ("229 Entering Extended Passive Mode (|||40014|)", 40014),  // vsftpd
        ("229 Entering extended passive mode (|||40231|).", 40231),  // pyftpdlib
        ("229 Extended Passive mode OK (|||40423|)", 40423),  // Pure-FTPd
        ("229 Entering Extended Passive Mode (|||50001|)", 50001),
        ("229 Entering Extended Passive Mode (!!!6446!)", 6446),
        ("229 EPSV (mode) ok (|||5001|)", 5001),
        ("229 Entering Extended Passive Mode (|1||65535|)", 65535),
    ] as [(String, UInt16)])
    func epsv(_ text: String, port: UInt16) {
        #expect(PassiveReply.parseEPSV(text) == port)
    }

    @Test(arguments: [
        "229 Entering Extended Passive Mode",
        "229 Entering Extended Passive Mode (|||0|)",
        "229 Entering Extended Passive Mode (|||65536|)",
        "229 Entering Extended Passive Mode (|||+5001|)",
        "229 Entering Extended Passive Mode (||| 5001|)",
        "229 Entering Extended Passive Mode (|||5001)",
        "229 Entering Extended Passive Mode (5|||5001|)",
        "229 Entering Extended Passive Mode (|3||5001|)",
        "229 (",
    ])
    func epsvRejects(_ text: String) {
        #expect(PassiveReply.parseEPSV(text) == nil)
    }

    @Test func activeModeArguments() {
        #expect(PassiveReply.eprtArgument(host: "127.0.0.1", port: 50000) == "|1|127.0.0.1|50000|")
        #expect(PassiveReply.eprtArgument(host: "::1", port: 21) == "|2|::1|21|")
        #expect(PassiveReply.portArgument(ipv4: "192.168.1.2", port: 50000) == "192,168,1,2,195,80")
        #expect(PassiveReply.portArgument(ipv4: "::1", port: 1) == nil)
        #expect(PassiveReply.portArgument(ipv4: "1.2.3.256", port: 1) == nil)
    }
}
