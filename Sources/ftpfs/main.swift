print("ftpfs")
