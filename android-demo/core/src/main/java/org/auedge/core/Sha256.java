package org.auedge.core;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** sha256 hex digests, as bundle.json records them for every model file. */
public final class Sha256 {
    private Sha256() {
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this Java runtime", e);
        }
    }

    /** Hex digest of a whole stream (read in 64 KiB blocks; the stream is not closed). */
    public static String of(InputStream in) throws IOException {
        MessageDigest md = digest();
        byte[] block = new byte[1 << 16];
        int n;
        while ((n = in.read(block)) > 0) {
            md.update(block, 0, n);
        }
        return hex(md.digest());
    }

    public static String of(byte[] data) {
        return hex(digest().digest(data));
    }

    static String hex(byte[] bytes) {
        char[] digits = "0123456789abcdef".toCharArray();
        char[] out = new char[bytes.length * 2];
        for (int i = 0; i < bytes.length; i++) {
            out[2 * i] = digits[(bytes[i] >> 4) & 0xF];
            out[2 * i + 1] = digits[bytes[i] & 0xF];
        }
        return new String(out);
    }
}
