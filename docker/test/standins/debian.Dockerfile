# Stand-in for debian:bookworm-slim: the minbase debootstrap of bookworm (debian.txt), imported by
# docker/test/e2e/bases.sh as elt-e2e/bookworm-rootfs, plus the host's CA bundle. The test machine
# reaches the package registries through a TLS proxy whose CA only the host trusts; npm, pip and
# OpenSSL in the images built from this stand-in trust it too. An upstream image needs none of it.
FROM elt-e2e/bookworm-rootfs
COPY ca-certificates.crt /usr/local/share/elt-host-ca.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/elt-host-ca.crt \
    PIP_CERT=/usr/local/share/elt-host-ca.crt \
    SSL_CERT_FILE=/usr/local/share/elt-host-ca.crt \
    REQUESTS_CA_BUNDLE=/usr/local/share/elt-host-ca.crt
CMD ["bash"]
