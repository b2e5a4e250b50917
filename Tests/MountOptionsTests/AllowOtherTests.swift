import MountOptions
import Testing

/// `allow_other` lets other local users into the mount; without `default_permissions` nothing
/// would check what they may do there, and each would act with the mount owner's FTP login.
@Suite struct AllowOtherTests {
    @Test func allowOtherBringsDefaultPermissionsAndSaysWhy() throws {
        let configuration = try MountConfiguration(parsing: ["allow_other,uid=1000"])
        #expect(configuration.fuse.defaultPermissions)
        #expect(configuration.fuseArguments == ["allow_other", "uid=1000", "default_permissions"])
        #expect(configuration.notices.count == 1)
        #expect(configuration.notices.first?.contains("adding default_permissions") == true)
        #expect(configuration.notices.first?.contains("FTP login") == true)
    }

    @Test func defaultPermissionsGivenIsNotRepeated() throws {
        for options in [["allow_other,default_permissions"], ["default_permissions", "allow_other"]] {
            let configuration = try MountConfiguration(parsing: options)
            #expect(configuration.fuseArguments.filter { $0 == "default_permissions" }.count == 1, "\(options)")
            #expect(configuration.notices.isEmpty, "\(options)")
        }
    }

    @Test func withoutAllowOtherNothingIsAdded() throws {
        for options in [[String](), ["ro,uid=1000"], ["allow_root"]] {
            let configuration = try MountConfiguration(parsing: options)
            #expect(!configuration.fuse.defaultPermissions, "\(options)")
            #expect(!configuration.fuseArguments.contains("default_permissions"), "\(options)")
            #expect(configuration.notices.isEmpty, "\(options)")
        }
    }
}
