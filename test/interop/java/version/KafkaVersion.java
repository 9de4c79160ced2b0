// test/interop room: prints the version of the kafka-clients on the classpath, as the client itself
// reports it (AppInfoParser reads kafka/kafka-version.properties from the loaded jar). Run with
// the single-file source launcher by test/interop/java-4.1.test.ts:
//   java -cp 'target-4.1/dependency/*' test/interop/java/version/KafkaVersion.java
// Kept outside src/ so Maven does not build it into the client program.
import org.apache.kafka.common.utils.AppInfoParser;

public class KafkaVersion {
  public static void main(String[] args) {
    System.out.println(AppInfoParser.getVersion());
  }
}
