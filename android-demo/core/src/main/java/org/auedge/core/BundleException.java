package org.auedge.core;

/** A bundle that cannot be used; the message names the file and what to do (as edge/bundle.py). */
public class BundleException extends Exception {
    private static final long serialVersionUID = 1L;

    public BundleException(String message) {
        super(message);
    }

    public BundleException(String message, Throwable cause) {
        super(message, cause);
    }
}
